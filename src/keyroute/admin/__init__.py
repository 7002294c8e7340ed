"""The admin API under ``/admin/v1``: JSON over ``ControlPlane``, behind the admin token."""
