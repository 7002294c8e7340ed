"""The admin API under ``/admin/v1``: JSON over ``ControlPlane``, authenticated by the admin token."""
