"""The PACT node: a Flask app serving footprints over the PACT v3 (and v2) REST API."""
