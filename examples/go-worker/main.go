// Command go-worker is a small Faktory worker used by faktctl's examples and end-to-end tests.
//
// It connects with FAKTORY_URL (read by the Faktory client library; when it is unset and
// FAKTORY_URL_FILE names a file, such as a Docker Swarm secret, the URL is read from that file),
// listens on the comma-separated queues in FAKTORY_QUEUES (default "default") with
// WORKER_CONCURRENCY goroutines (default 5), and stops cleanly on SIGTERM or SIGINT.
//
// `go-worker push N` is a producer instead: it pushes N demo.echo jobs to the first queue of
// FAKTORY_QUEUES and exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	faktory "github.com/contribsys/faktory/client"
	worker "github.com/contribsys/faktory_worker_go"
)

const (
	defaultQueue       = "default"
	defaultConcurrency = 5
)

// echo succeeds and logs its arguments.
func echo(ctx context.Context, args ...interface{}) error {
	help := worker.HelperFor(ctx)
	log.Printf("demo.echo jid=%s args=%v", help.Jid(), args)
	return nil
}

// fail always returns an error, so Faktory records a failure and schedules a retry.
func fail(ctx context.Context, args ...interface{}) error {
	help := worker.HelperFor(ctx)
	return fmt.Errorf("demo.fail jid=%s: failing on purpose (args=%v)", help.Jid(), args)
}

// queuesFromEnv splits FAKTORY_QUEUES on commas and drops empty entries.
func queuesFromEnv() []string {
	var queues []string
	for _, name := range strings.Split(os.Getenv("FAKTORY_QUEUES"), ",") {
		if trimmed := strings.TrimSpace(name); trimmed != "" {
			queues = append(queues, trimmed)
		}
	}
	if len(queues) == 0 {
		return []string{defaultQueue}
	}
	return queues
}

// concurrencyFromEnv reads WORKER_CONCURRENCY, which must be a positive integer.
func concurrencyFromEnv() (int, error) {
	raw := strings.TrimSpace(os.Getenv("WORKER_CONCURRENCY"))
	if raw == "" {
		return defaultConcurrency, nil
	}
	value, err := strconv.Atoi(raw)
	if err != nil || value < 1 {
		return 0, errors.New("WORKER_CONCURRENCY must be a positive integer, got " + strconv.Quote(raw))
	}
	return value, nil
}

// urlFromFile sets FAKTORY_URL from the file FAKTORY_URL_FILE names, unless it is already set.
func urlFromFile() error {
	path := os.Getenv("FAKTORY_URL_FILE")
	if path == "" || os.Getenv("FAKTORY_URL") != "" {
		return nil
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("FAKTORY_URL_FILE: %w", err)
	}
	return os.Setenv("FAKTORY_URL", strings.TrimSpace(string(content)))
}

// push enqueues count demo.echo jobs on the first queue of FAKTORY_QUEUES.
func push(count int) error {
	client, err := faktory.Open()
	if err != nil {
		return err
	}
	defer client.Close()
	queue := queuesFromEnv()[0]
	for i := 0; i < count; i++ {
		job := faktory.NewJob("demo.echo", i)
		job.Queue = queue
		if err := client.Push(job); err != nil {
			return fmt.Errorf("push %d: %w", i, err)
		}
	}
	log.Printf("go-worker: pushed %d jobs to %s", count, queue)
	return nil
}

func run() error {
	concurrency, err := concurrencyFromEnv()
	if err != nil {
		return err
	}
	queues := queuesFromEnv()

	mgr := worker.NewManager()
	mgr.Concurrency = concurrency
	mgr.Labels = append(mgr.Labels, "faktctl-example")
	mgr.Register("demo.echo", echo)
	mgr.Register("demo.fail", fail)
	mgr.ProcessStrictPriorityQueues(queues...)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Printf("go-worker: queues=%s concurrency=%d", strings.Join(queues, ","), concurrency)
	// RunWithContext returns once ctx is cancelled and in-flight jobs have finished.
	return mgr.RunWithContext(ctx)
}

func main() {
	if err := urlFromFile(); err != nil {
		log.Printf("go-worker: %v", err)
		os.Exit(1)
	}
	if len(os.Args) == 3 && os.Args[1] == "push" {
		count, err := strconv.Atoi(os.Args[2])
		if err == nil && count >= 0 {
			err = push(count)
		}
		if err != nil {
			log.Printf("go-worker: push: %v", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		log.Printf("go-worker: %v", err)
		os.Exit(1)
	}
	log.Printf("go-worker: stopped")
}
