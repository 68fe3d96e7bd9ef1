"""Local development stack: private Redis and MariaDB servers, demo data, `make run`.

The same server launchers back the test fixtures, so tests and `make run` start their
servers the same way (on loopback, with their data in a folder of their own).
"""
