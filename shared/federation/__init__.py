"""Federation between municipal nodes and the state node over Redis Streams."""
