// vrepo ui [--listen 127.0.0.1:8470]: the web view (docs/ui.md) of the repository around the
// working folder, on a server of its own, until Ctrl-C.
#include <cstdio>
#include <memory>

#include "cli.h"
#include "vrepo/remote/server.h"
#include "vrepo/web/site.h"

namespace vrepo::cli {

Command RegisterUi(CLI::App& app, Globals& g) {
  struct Opts {
    std::string listen = "127.0.0.1:8470";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "ui",
      "Browse this repository in a web browser\n"
      "Serves the web view (docs/ui.md): branches, commits and their label diffs, a grid of "
      "the dataset filterable by label and path, runs with their curves, confusion matrices and "
      "suspect labels, and fixing labels into an ordinary commit. Prints `open URL`: the URL "
      "holds a token that gives read-write access, so share it with no one; the first visit "
      "trades it for a session cookie. Stops on Ctrl-C.");
  sub->add_option("--listen", o->listen, "Address and port to listen on (default 127.0.0.1:8470)")
      ->type_name("HOST:PORT");
  return {sub, [&g, o] {
            web::SiteOptions site_options;
            site_options.mode = web::SiteMode::kUi;
            site_options.repository = g.cwd;
            auto site = web::Site::Create(std::move(site_options));
            if (!site.ok()) return Fail("ui", site.status());
            std::shared_ptr<web::Site> shared_site = std::move(*site);
            ServerOptions options;
            options.root = shared_site->repository_root();
            options.pages_prefix = "";
            options.pages = [shared_site](const httplib::Request& req, httplib::Response& res) {
              return shared_site->Handle(req, res);
            };
            return ServeUntilStopped("ui", options, o->listen, [&](const RepositoryServer& s) {
              Print("open " + s.url() + "/?token=" + shared_site->token() + "\n");
            });
          }};
}

}  // namespace vrepo::cli
