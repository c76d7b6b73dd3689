"""Test suite; a package so that test modules with the same name in sub-folders do not collide."""
