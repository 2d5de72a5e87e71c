"""Event contracts shared by every service: envelope, topics and event schemas.

Imports only pydantic and the standard library, so any service (or a regulator's
own tool) can depend on it without pulling in the rest of vndx.
"""
