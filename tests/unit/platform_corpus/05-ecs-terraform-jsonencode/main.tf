variable "faktory_password" {
  type      = string
  sensitive = true
}

resource "aws_ecs_task_definition" "faktory" {
  family       = "faktory"
  network_mode = "bridge"
  memory       = "1024"

  container_definitions = jsonencode([
    {
      name      = "faktory"
      image     = "contribsys/faktory:1.9.4"
      essential = true
      # flags only: the official image has no ENTRYPOINT, so this never starts
      command = ["-b", ":7419", "-w", ":7420", "-e", "production"]
      environment = [
        { name = "FAKTORY_PASSWORD", value = var.faktory_password },
      ]
      portMappings = [
        { containerPort = 7419, hostPort = 7419 },
        { containerPort = 7420, hostPort = 7420 },
      ]
      mountPoints = [{ sourceVolume = "data", containerPath = "/var/lib/faktory" }]
    }
  ])

  volume {
    name      = "data"
    host_path = "/srv/faktory"
  }
}
