"""The plant view of a factory model: GHG inventory, offsets, zero-carbon assessment, scenarios, meter data.

The same validated `ProductModel` that gives the product footprints gives the plant's inventory, so the two
cannot disagree: `inventory.conservation` checks that the products' attributed direct and electricity
emissions add up to the plant's Scope 1 + 2 (see docs/factory.md).
"""
