"""Network building blocks shared by several interpolation methods."""
