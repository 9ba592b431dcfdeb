module github.com/faktctl/examples/go-worker

go 1.22

require github.com/contribsys/faktory_worker_go v1.7.0

require github.com/contribsys/faktory v1.8.0
