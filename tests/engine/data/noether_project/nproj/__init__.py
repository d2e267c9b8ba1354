"""A small classification project written for Noether (pydantic schemas, Noether imports), before migration."""
