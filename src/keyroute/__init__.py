"""keyroute: a self-hosted BYOK LLM gateway.

Importing the package has no side effects; the version is the only thing defined here.
"""

__version__ = "0.1.0"
