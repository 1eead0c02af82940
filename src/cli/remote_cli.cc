#include "remote_cli.h"

#include <cstdio>

#include "vrepo/remote/s3_transport.h"

namespace vrepo::cli {

namespace {

std::string Short(const std::string& full) {
  for (const char* prefix : {"refs/heads/", "refs/tags/", "refs/remotes/"}) {
    std::string p = prefix;
    if (full.rfind(p, 0) == 0) return full.substr(p.size());
  }
  return full;
}

}  // namespace

Result<OpenedRemote> OpenRemote(const Repository& repo, const std::string& name_or_url) {
  std::string name = name_or_url.empty() ? "origin" : name_or_url;
  OpenedRemote out;
  auto remote = GetRemote(repo, name);
  TransportOptions options;
  if (remote.ok()) {
    out.name = name;
    out.url = remote->url;
    options = TransportOptionsFor(repo, *remote);
  } else if (remote.status().code() == Status::Code::kNotFound &&
             (name.find('/') != std::string::npos || name.find("://") != std::string::npos)) {
    out.url = name;
    options = TransportOptionsFor(RemoteConfig{});
  } else if (remote.status().code() == Status::Code::kNotFound) {
    return Status::NotFound("'" + name + "' is not a configured remote [see 'vrepo remote add']");
  } else {
    return remote.status();
  }
  VREPO_ASSIGN_OR_RETURN(out.transport, OpenTransport(out.url, options));
  return out;
}

void PrintRefLines(const SyncReport& report, bool push, const std::string& remote_name) {
  for (const RefResult& r : report.refs) {
    if (r.outcome == RefOutcome::kUpToDate && !push) continue;  // fetch lists only what changed
    std::string src = Short(r.name);
    std::string dst = src;
    if (!push && r.name.rfind("refs/remotes/", 0) == 0) {
      src = src.substr(remote_name.size() + 1);
    }
    bool branch = r.name.rfind("refs/heads/", 0) == 0 || r.name.rfind("refs/remotes/", 0) == 0;
    bool tag = r.name.rfind("refs/tags/", 0) == 0;
    std::string flag, summary, note;
    if (r.outcome == RefOutcome::kNew) {
      flag = "*";
      summary = branch ? "[new branch]" : tag ? "[new tag]" : "[new ref]";
    } else if (r.outcome == RefOutcome::kUpdated) {
      flag = " ";
      summary = ShortId(r.old_target) + ".." + ShortId(r.new_target);
    } else if (r.outcome == RefOutcome::kForced) {
      flag = "+";
      summary = ShortId(r.old_target) + "..." + ShortId(r.new_target);
      note = " (forced update)";
    } else if (r.outcome == RefOutcome::kUpToDate) {
      flag = "=";
      summary = "[up to date]";
    } else {
      flag = "!";
      summary = "[rejected]";
      note = " (" + r.reason + ")";
    }
    std::string line = " " + flag + " " + Pad(summary, 17) + " " +
                       (push ? src + " -> " + dst : Pad(src, 10) + " -> " + dst) + note + "\n";
    std::fputs(line.c_str(), stderr);
  }
}

void WriteReportFields(JsonWriter& json, const std::string& url, const SyncReport& report,
                       const Transport* transport) {
  json.Key("url").String(url);
  json.Key("ok").Bool(report.ok());
  json.Key("commits").Uint(report.commits);
  json.Key("objects").Uint(report.objects);
  json.Key("object_bytes").Uint(report.object_bytes);
  json.Key("refs").BeginArray();
  for (const RefResult& r : report.refs) {
    json.BeginObject();
    json.Key("name").String(r.name);
    json.Key("old").String(r.old_target);
    json.Key("new").String(r.new_target);
    json.Key("status").String(r.StatusText());
    json.EndObject();
  }
  json.EndArray();
  if (auto s3 = transport ? S3StatsOf(*transport) : std::nullopt) {
    json.Key("s3").BeginObject();
    json.Key("requests").Uint(s3->requests);
    json.Key("bytes_sent").Uint(s3->bytes_sent);
    json.Key("bytes_received").Uint(s3->bytes_received);
    json.Key("parts_reused").Uint(s3->parts_reused);
    json.EndObject();
  }
}

void PrintReportJson(const std::string& url, const SyncReport& report, const Transport* transport) {
  JsonWriter json;
  json.BeginObject();
  WriteReportFields(json, url, report, transport);
  json.EndObject();
  Print(json.str() + "\n");
}

}  // namespace vrepo::cli
