resource "aws_s3_bucket" "backups" {
  bucket = "faktory-backups"
}
