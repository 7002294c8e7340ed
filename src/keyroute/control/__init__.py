"""The control plane: workspaces, gateway keys, provider keys, aliases, the vault.

The CLI and the admin API are thin layers over ``ControlPlane``; neither talks to storage or the
vault directly. Views (``views.py``) are the only shapes records leave in, and never hold secrets.
"""
