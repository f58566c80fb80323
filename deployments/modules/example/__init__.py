"""The reference module: the smallest complete LiftOS module, mirrored by `liftos module new`."""
