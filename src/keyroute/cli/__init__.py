"""The ``keyroute`` command line: a thin layer over ``ControlPlane`` and ``serve``."""
