"""法治助手: retrieval over a township's reports and China's laws, answered with citations."""
