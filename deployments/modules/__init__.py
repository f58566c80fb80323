"""Built-in LiftOS modules and the host for registered Python modules."""
