# A Nomad job running the Faktory server (HCL), not a compose file.
job "faktory" {
  datacenters = ["dc1"]
  group "server" {
    task "faktory" {
      driver = "docker"
      config {
        image = "contribsys/faktory:1.9.4"
        ports = ["protocol", "web"]
      }
    }
  }
}
