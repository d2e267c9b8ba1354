"""A project written the way Noether's users write one: a config_schema_kind schema, user callbacks and a union
of callback configs dispatched by name."""
