module safe-drain.local/pause

go 1.22
