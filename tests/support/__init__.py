"""Helpers shared by the test suite: real processes on loopback, started and stopped by pid."""
