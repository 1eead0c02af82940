// S3Settings: where an S3 remote lives and the credentials to reach it, resolved the way the
// AWS tools do (environment, ~/.aws/credentials and ~/.aws/config, then per-remote overrides).
// Plain values; the functions read only the files they name and are safe on any thread.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "vrepo/util/status.h"

namespace vrepo {

struct S3Settings {
  // "http://127.0.0.1:7480" or "https://minio.example:9000"; empty means AWS itself
  // (https://s3.REGION.amazonaws.com).
  std::string endpoint;
  std::string region = "us-east-1";
  std::string bucket;
  // Prepended to every key with a '/' ("team/data" makes "refs/x" the object
  // "team/data/refs/x"); empty for the bucket's root. No leading or trailing '/'.
  std::string prefix;
  // Bucket in the path (http://host/BUCKET/KEY) rather than in the host name
  // (https://BUCKET.host/KEY). Custom endpoints (MinIO, Ceph) usually need the path style.
  bool path_style = true;
  std::string access_key;
  std::string secret_key;     // never printed
  std::string session_token;  // never printed; empty when the credentials are long-lived
};

// Per-remote settings from `.vrepo/config` (remote.NAME.endpoint, .region, .path-style);
// each one set wins over the environment and the AWS files.
struct S3Overrides {
  std::optional<std::string> endpoint;
  std::optional<std::string> region;
  std::optional<bool> path_style;
};

// Splits "s3://BUCKET[/PREFIX]" into settings.bucket and settings.prefix; InvalidArgument
// naming the URL when it is not one.
Status ParseS3Url(const std::string& url, S3Settings* settings);

// Fills endpoint, region, path_style and credentials of `settings` (bucket and prefix kept):
//   endpoint: override, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url;
//   region: override, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1;
//   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
//   profile (AWS_PROFILE, default "default") of AWS_SHARED_CREDENTIALS_FILE or
//   HOME/.aws/credentials; the profile's region and endpoint_url come from AWS_CONFIG_FILE or
//   HOME/.aws/config ([default] or [profile NAME]);
//   path_style: override, else true for a custom endpoint and false for AWS.
// `env` stands for the process environment. A corrupt file gives InvalidArgument naming the
// file and line; missing credentials say which variables and files were tried.
Status ResolveS3Settings(const std::map<std::string, std::string>& env, const std::string& home,
                         const S3Overrides& overrides, S3Settings* settings);

}  // namespace vrepo
