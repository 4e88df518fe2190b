"""Re-running an experiment in a throwaway worktree and judging the result."""
