"""Registry: BINs, their areas and lifecycle, members and how to reach them."""
