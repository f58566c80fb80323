"""Ray Serve adapters: FastAPI apps built by factories, wrapped by thin Serve deployments."""
