"""Typed configuration: ``schema`` holds the tree and its defaults, ``load`` builds it.

Load order: defaults -> TOML file -> ``KEYROUTE__SECTION__KEY`` env vars -> the contract env vars
(``KEYROUTE_DATA_DIR``, ``KEYROUTE_DATABASE_URL``, ``KEYROUTE_MASTER_KEY``). Only
``config.load`` reads the environment.
"""
