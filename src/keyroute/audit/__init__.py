"""The audit log: one record per request and per admin event, in a hash chain per workspace,
written off the request path, verifiable and exportable. See ``core.audit`` for the chain."""
