module gameday.local/flannel-conf

go 1.22
