"""Supply-chain tiers: requests out, fulfilment with upstream footprints, delivery; local nodes and the demo chain."""
