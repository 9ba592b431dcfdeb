resource "aws_ecs_task_definition" "jobs" {
  family                = "jobs"
  network_mode          = "awsvpc"
  container_definitions = <<DEFINITION
[
  {
    "name": "faktory",
    "image": "contribsys/faktory:${var.faktory_version}",
    "command": ["/faktory", "-b", ":7419", "-w", ":7420", "-e", "production"],
    "environment": [
      {"name": "FAKTORY_PASSWORD", "value": "changeme123"}
    ],
    "memory": ${var.memory}
  },
  {
    "name": "sidecar",
    "image": "busybox:1.36",
    "command": ["sh", "-c", "while true; do killall -0 faktory || echo gone; sleep 5; done"]
  }
]
DEFINITION
}
