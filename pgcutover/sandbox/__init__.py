"""The sandbox behind `invoke sandbox` and the tests: a throwaway cluster and a legacy demo database."""
