"""CBAM on Brightway: specific embedded emissions of an installation, and a product model mapped onto one."""
