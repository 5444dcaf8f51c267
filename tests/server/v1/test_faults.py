"""Each V1 fault over loopback, and its count in /metrics equal to what the client saw."""

from __future__ import annotations

import time

from tests.server.v1.support import Frame, Socket, create, is_end, message, metrics, serve


def fault(url: str, kind: str) -> float:
    return metrics(url)[f'loadtest_faults_total{{kind="{kind}"}}']


def turns(url: str, cid: str, count: int) -> list[Frame]:
    sock = Socket.open(url, "events", cid)
    sock.recv()
    for n in range(count):
        sock.send(message(f"turn {n}"))
        sock.until(is_end)
    sock.close()
    return sock.frames[1:]


def test_replay_skip_and_repeat_on_both_sockets() -> None:
    with serve(
        "--event-delay-ms", "1", "--script", "finish", "--replay-skip-every", "3", "--replay-repeat-every", "4"
    ) as srv:
        cid = create(srv.url)
        live = [f for f in turns(srv.url, cid, 2) if f.get("key") != "full_state"]
        n = len(live)
        want: list[str] = []
        for i, event in enumerate(live, start=1):
            if i % 3:
                want.append(str(event["id"]))
                if i % 4 == 0:
                    want.append(str(event["id"]))
        sock = Socket.open(srv.url, "events", cid, resend_mode="all")
        got = [sock.recv() for _ in range(1 + len(want))]
        assert sock.quiet(0.1) == []
        assert [f["id"] for f in got[1:]] == want
        session = Socket.open(srv.url, "session", cid, after_seq="-1")
        frames = [session.recv() for _ in range(1 + len(want) + 1)]
        seqs = [f["seq"] for f in frames[1:-1]]
        assert seqs == [i - 1 for i in range(1, n + 1) if i % 3 for _ in range(2 if i % 4 == 0 else 1)]
        skipped, repeated = n // 3, n // 4 - n // 12
        assert fault(srv.url, "replay_skip") == 2 * skipped
        assert fault(srv.url, "replay_repeat") == 2 * repeated
        sock.close()
        session.close()


def test_snapshot_dropped_on_every_second_connect() -> None:
    with serve("--event-delay-ms", "1", "--snapshot-drop-every", "2") as srv:
        cid = create(srv.url)
        first_frames = []
        for kind in ("events", "events", "session", "session"):
            sock = Socket.open(srv.url, kind, cid)
            first_frames.append(sock.quiet(0.15))
            sock.close()
        assert [len(f) for f in first_frames] == [1, 0, 2, 1]  # session: sync, then the snapshot unless dropped
        assert first_frames[3][0]["type"] == "sync"
        assert fault(srv.url, "snapshot_drop") == 2


def test_live_frames_interleave_with_a_replay_and_come_again_in_it() -> None:
    with serve("--event-delay-ms", "30", "--script", "run,edit,finish", "--replay-interleave-ms", "100") as srv:
        cid = create(srv.url)
        sender = Socket.open(srv.url, "events", cid)
        sender.recv()
        sender.send(message("go"))
        sender.until(lambda f: f.get("value") == "running")
        sock = Socket.open(srv.url, "events", cid, resend_mode="all")
        got = sock.until(is_end)
        snapshot_at = next(i for i, f in enumerate(got) if f.get("key") == "full_state")
        assert snapshot_at > 0, "live frames arrive before the snapshot while the replay waits"
        ids = [f["id"] for f in got]
        twice = {i for i in ids if ids.count(i) == 2}
        assert all(f["id"] in twice for f in got[:snapshot_at])
        firsts = [ids.index(i) for i in twice]
        assert any(at > snapshot_at for at in firsts), "live frames also arrive in the middle of the replay"
        assert max(ids.count(i) for i in ids) == 2
        assert fault(srv.url, "replay_interleave") == len(twice)
        sender.close()
        sock.close()


def test_stall_and_delay_are_counted_and_felt() -> None:
    with serve(
        "--event-delay-ms",
        "10",
        "--script",
        "run,finish",
        "--stall-after",
        "3",
        "--stall-ms",
        "300",
        "--delay-every",
        "2",
        "--delay-ms",
        "50",
    ) as srv:
        sock = Socket.open(srv.url, "events", create(srv.url))
        sock.recv()
        started = sock.send(message("go"))
        sock.until(is_end)
        took = sock.stamps[-1] - started
        # 6 slots (running, 2 × action+observation, finished) of 10 ms, + a 300 ms stall + 3 delays of 50 ms
        assert 0.06 + 0.3 + 0.15 - 0.005 <= took <= 0.06 + 0.3 + 0.15 + 0.15, took
        assert fault(srv.url, "stall") == 1
        assert fault(srv.url, "delay") == 3
        sock.close()


def test_drops_clean_and_abrupt() -> None:
    with serve("--drop-every", "0.3", "--drop-share", "1") as srv:
        cid = create(srv.url)
        socks = [Socket.open(srv.url, kind, cid) for kind in ("events", "session")]
        codes = [s.closed_with(5)[0] for s in socks]
        assert codes == [1001, 1001]
        time.sleep(0.7)  # two more ticks: a socket is dropped once
        assert fault(srv.url, "drop_clean") == 2
    with serve("--drop-every", "0.3", "--drop-share", "1", "--drop-mode", "abrupt") as srv:
        sock = Socket.open(srv.url, "events", create(srv.url))
        assert sock.closed_with(5) == (None, "")  # no close frame: the TCP connection was reset
        time.sleep(0.7)
        assert fault(srv.url, "drop_abrupt") == 1
        assert fault(srv.url, "drop_clean") == 0
