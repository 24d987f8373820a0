"""The 1C kit generator: Designer XML trees from the one BSL source in resources/1c."""
