"""The sandbox for `invoke sandbox` and tests: a throwaway cluster and a legacy demo database."""
