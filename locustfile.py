"""OpenHands WebSocket (Socket.IO) load test: `locust -f locustfile.py --host http://127.0.0.1:3000`.

Profiles (pick on the command line by name, e.g. `... PacedUser`, or with `--class-picker` in the web UI):
ChatUser, PacedUser, ReconnectUser, IdleUser. `--shape` picks a load shape (none, step, ramp, spike,
capacity, throttle); with `--class-picker` the shapes can also be chosen in the web UI. `LoadShape` is
imported first because Locust makes the first shape it finds the default; it follows -u/-r/-t unless
`--shape` says otherwise. All options: `locust -f locustfile.py --help`. No logic lives here.
"""

from loadtest.harness.shapes import (  # noqa: F401, I001
    LoadShape,
    CapacitySearchShape,
    RampShape,
    SpikeShape,
    StepShape,
    ThrottleSearchShape,
)
from loadtest.harness.users import ChatUser, IdleUser, PacedUser, ReconnectUser  # noqa: F401
