#include "server/store/postgres_test_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace quantd::store {
namespace {

namespace fs = std::filesystem;

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

std::string FindBinDir() {
  for (const char* version : {"17", "16", "15", "14", "13"}) {
    const std::string dir =
        absl::StrCat("/usr/lib/postgresql/", version, "/bin");
    if (fs::exists(dir + "/initdb")) return dir;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresTestServer>>
PostgresTestServer::Start() {
  std::unique_ptr<PostgresTestServer> server(new PostgresTestServer());
  server->bin_dir_ = FindBinDir();
  if (server->bin_dir_.empty()) {
    return absl::NotFoundError(
        "no /usr/lib/postgresql/*/bin/initdb; install the postgresql package");
  }
  char pattern[] = "/tmp/quantd_pg_XXXXXX";
  if (::mkdtemp(pattern) == nullptr) return absl::InternalError("mkdtemp");
  server->dir_ = pattern;
  if (::geteuid() == 0 &&
      std::system(absl::StrCat("chown nobody ", server->dir_).c_str()) != 0) {
    return absl::InternalError("chown nobody failed");
  }
  server->port_ = FreePort();
  const std::string data = server->dir_ + "/data";
  if (server->Run(absl::StrCat(server->bin_dir_, "/initdb -D ", data,
                               " -A trust -U quantd > ", server->dir_,
                               "/initdb.log 2>&1")) != 0) {
    return absl::InternalError("initdb failed; see " + server->dir_);
  }
  if (server->Run(absl::StrCat(
          server->bin_dir_, "/pg_ctl -D ", data, " -l ", server->dir_,
          "/server.log -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p ",
          server->port_, " -k ", server->dir_, " -c fsync=off\" start > ",
          server->dir_, "/pg_ctl.log 2>&1")) != 0) {
    return absl::InternalError("pg_ctl start failed; see " + server->dir_);
  }
  server->running_ = true;
  return server;
}

PostgresTestServer::~PostgresTestServer() {
  Stop();
  std::error_code error;
  if (!dir_.empty()) fs::remove_all(dir_, error);
}

int PostgresTestServer::Run(const std::string& command) const {
  const std::string full =
      ::geteuid() == 0
          ? absl::StrCat("runuser -u nobody -- sh -c '", command, "'")
          : command;
  return std::system(full.c_str());
}

void PostgresTestServer::Stop() {
  if (!running_) return;
  Run(absl::StrCat(bin_dir_, "/pg_ctl -D ", dir_, "/data -m immediate stop > ",
                   dir_, "/stop.log 2>&1"));
  running_ = false;
}

absl::StatusOr<std::string> PostgresTestServer::CreateDatabase() {
  const std::string name = absl::StrCat("t", databases_++);
  if (Run(absl::StrCat(bin_dir_, "/createdb -h 127.0.0.1 -p ", port_,
                       " -U quantd ", name)) != 0) {
    return absl::InternalError("createdb failed");
  }
  return absl::StrCat("host=127.0.0.1 port=", port_,
                      " user=quantd dbname=", name, " connect_timeout=10");
}

}  // namespace quantd::store
