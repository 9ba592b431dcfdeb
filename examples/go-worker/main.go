// Command go-worker is a small Faktory worker used by faktctl's examples and end-to-end tests.
//
// It connects with FAKTORY_URL (read by the Faktory client library; when it is unset and
// FAKTORY_URL_FILE names a file, such as a Docker Swarm secret, the URL is read from that file),
// listens on the comma-separated queues in FAKTORY_QUEUES (default "default") with
// WORKER_CONCURRENCY goroutines (default 5). It runs on the library's own Run() lifecycle, so
// it honours every way Faktory stops a worker: SIGTSTP or the dashboard's "quiet" (stop fetching,
// finish what runs), SIGTERM/SIGINT or the dashboard's "terminate" (stop fetching, wait up to the
// library's ShutdownTimeout of 25s for running jobs, then exit 0).
//
// Jobs: demo.echo logs its arguments; demo.fail always fails; demo.sleep sleeps for its first
// argument in seconds (a long job, to watch a deploy finish it) and logs
// "demo.sleep done jid=JID" when it completes.
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
	"strconv"
	"strings"
	"time"

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

// sleep waits for args[0] seconds (a number), then logs its completion. When the library gives
// up waiting at shutdown it cancels ctx, and the job returns an error (Faktory retries it).
func sleep(ctx context.Context, args ...interface{}) error {
	help := worker.HelperFor(ctx)
	seconds := 1.0
	if len(args) > 0 {
		if value, ok := args[0].(float64); ok && value >= 0 {
			seconds = value
		}
	}
	log.Printf("demo.sleep start jid=%s seconds=%g", help.Jid(), seconds)
	select {
	case <-time.After(time.Duration(seconds * float64(time.Second))):
		log.Printf("demo.sleep done jid=%s", help.Jid())
		return nil
	case <-ctx.Done():
		log.Printf("demo.sleep cancelled jid=%s", help.Jid())
		return ctx.Err()
	}
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
	mgr.Register("demo.sleep", sleep)
	mgr.ProcessStrictPriorityQueues(queues...)
	mgr.On(worker.Quiet, func(*worker.Manager) error {
		log.Printf("go-worker: quiet (no new jobs, finishing running ones)")
		return nil
	})

	log.Printf("go-worker: queues=%s concurrency=%d", strings.Join(queues, ","), concurrency)
	// Run handles TSTP (quiet), TERM and INT (terminate) itself; after a terminate it waits for
	// running jobs (ShutdownTimeout) and exits the process with status 0, so it only returns on a
	// start-up error.
	return mgr.Run()
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
