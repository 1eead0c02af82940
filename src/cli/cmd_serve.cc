// vrepo serve --root DIR --listen HOST:PORT [--tokens FILE] [--tls-cert F --tls-key F]
//             [--max-request BYTES] [--threads N] [--max-connections-per-address N]
//             [--max-read-answer BYTES] [--head-timeout SECONDS]
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "cli.h"
#include "vrepo/remote/server.h"
#include "vrepo/web/site.h"

namespace vrepo::cli {

// "HOST:PORT" or "[V6]:PORT".
Status ParseListen(const std::string& listen, std::string* host, int* port) {
  size_t colon = listen.rfind(':');
  auto bad = [&] { return Status::InvalidArgument("--listen '" + listen + "' is not HOST:PORT"); };
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) return bad();
  *host = listen.substr(0, colon);
  if (host->front() == '[') {
    if (host->back() != ']') return bad();
    *host = host->substr(1, host->size() - 2);
  }
  std::string digits = listen.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return bad();
  }
  *port = std::stoi(digits);
  if (*port > 65535) return bad();
  return Status::OK();
}

int ServeUntilStopped(const std::string& command, ServerOptions options, const std::string& listen,
                      const std::function<void(const RepositoryServer&)>& announce) {
  options.log = [](const std::string& line) {
    std::string out = line + "\n";
    // One write per line, so lines of concurrent requests never interleave.
    ssize_t ignored = ::write(STDERR_FILENO, out.data(), out.size());
    (void)ignored;
  };
  Status st = ParseListen(listen, &options.host, &options.port);
  if (!st.ok()) return FailWith(command, st.message(), kExitUsage);

  // SIGINT and SIGTERM are taken by one thread (blocked in all others, which inherit this
  // mask), so the stop runs outside a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // A client that hangs up mid-answer fails that request, not the server.
  ::signal(SIGPIPE, SIG_IGN);
  auto server = RepositoryServer::Bind(options);
  if (!server.ok()) return Fail(command, server.status());
  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    (*server)->Stop();
  });
  announce(**server);
  std::fflush(stdout);
  Status run = (*server)->Run();
  // Wakes the stopper when serving ended without a signal.
  ::kill(::getpid(), SIGTERM);
  stopper.join();
  if (!run.ok()) return Fail(command, run);
  std::fprintf(stderr, "vrepo %s: stopped\n", command.c_str());
  return kExitOk;
}

Command RegisterServe(CLI::App& app, Globals& g) {
  struct Opts {
    std::string root;
    std::string listen = "127.0.0.1:8080";
    std::string tokens;
    std::string tls_cert;
    std::string tls_key;
    uint64_t max_request = 256ull << 20;
    ServerOptions defaults;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "Serve the repositories under a folder over HTTP(S)\n"
      "Clients reach ROOT/NAME as http://HOST:PORT/NAME (https with --tls-cert and --tls-key) "
      "to push, fetch and clone; a push to a new NAME creates a bare repository there. Rights "
      "come from the tokens file, one grant a line: `TOKEN r|rw REPO-GLOB` (`#` comments; "
      "`anonymous r GLOB` grants reads without a token). Without --tokens everyone may read and "
      "nobody may write. Prints `listening on URL` when ready (port 0 picks a free port) and "
      "one line per request on stderr. The web view (docs/ui.md) is at http://HOST:PORT/ui/: "
      "a browser logs in there once with a token. Stops on Ctrl-C or SIGTERM after the "
      "requests in progress.");
  sub->add_option("--root", o->root, "Folder holding the repositories")
      ->type_name("DIR")
      ->required();
  sub->add_option("--listen", o->listen, "Address and port to listen on (default 127.0.0.1:8080)")
      ->type_name("HOST:PORT");
  sub->add_option("--tokens", o->tokens, "Tokens file granting read or read-write rights")
      ->type_name("FILE");
  auto* cert =
      sub->add_option("--tls-cert", o->tls_cert, "PEM certificate: serve https")->type_name("FILE");
  auto* key =
      sub->add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert")->type_name("FILE");
  cert->needs(key);
  key->needs(cert);
  sub->add_option("--max-request", o->max_request,
                  "Largest request body accepted; bigger ones get 413 (default 268435456)")
      ->type_name("BYTES");
  sub->add_option("--threads", o->defaults.threads, "Connections served at once (default 128)")
      ->check(CLI::Range(1, 4096));
  sub->add_option("--max-connections-per-address", o->defaults.max_connections_per_address,
                  "Connections one client address may hold; more get 503 (default 64)")
      ->check(CLI::Range(1, 4096));
  sub->add_option("--max-read-answer", o->defaults.max_read_answer,
                  "Most bytes of objects one read answers; clients ask again for the rest "
                  "(default 67108864)")
      ->type_name("BYTES")
      ->check(CLI::Range(uint64_t{1} << 16, uint64_t{1} << 40));
  sub->add_option("--head-timeout", o->defaults.head_timeout_s,
                  "Seconds a client has to send a request's headers (default 10)")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 3600));
  return {sub, [&g, o] {
            (void)g;
            ServerOptions options = o->defaults;
            options.root = o->root;
            options.tokens_file = o->tokens;
            options.tls_cert = o->tls_cert;
            options.tls_key = o->tls_key;
            options.max_request = o->max_request;
            web::SiteOptions site_options;
            site_options.mode = web::SiteMode::kServe;
            site_options.root = o->root;
            if (!o->tokens.empty()) {
              auto grants = TokenGrants::Load(o->tokens);
              if (!grants.ok()) return Fail("serve", grants.status());
              site_options.grants = std::move(*grants);
            }
            auto site = web::Site::Create(std::move(site_options));
            if (!site.ok()) return Fail("serve", site.status());
            std::shared_ptr<web::Site> shared_site = std::move(*site);
            options.pages = [shared_site](const httplib::Request& req, httplib::Response& res) {
              return shared_site->Handle(req, res);
            };
            return ServeUntilStopped("serve", options, o->listen, [&](const RepositoryServer& s) {
              if (options.tokens_file.empty()) {
                std::fprintf(stderr,
                             "vrepo serve: no --tokens: everyone may read, nobody may write\n");
              }
              Print("listening on " + s.url() + "\n");
            });
          }};
}

}  // namespace vrepo::cli
