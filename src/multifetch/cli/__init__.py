"""The command line: ``multifetch fetch``, ``multifetch report``, ``multifetch serve``."""
