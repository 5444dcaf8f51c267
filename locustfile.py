"""Locust entry point: `locust -f locustfile.py --host http://127.0.0.1:3000`.

Holds no logic: the users and shapes live in loadtest.harness.
"""
