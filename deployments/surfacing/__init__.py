"""The surfacing module: catalog findability audits and the fixes that move them."""
