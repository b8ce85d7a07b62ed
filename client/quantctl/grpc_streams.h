// The real streams behind EventWatcher and DownloadResumable: WatchJob and
// DownloadArtifact calls on a Connection, opened at a sequence or offset.
#pragma once

#include <string>

#include "client/quantctl/connection.h"
#include "client/quantctl/event_watcher.h"
#include "client/quantctl/resumable_download.h"

namespace quantd::client {

// Opens JobService.WatchJob for `job_id`. The connection must outlive the
// returned opener and its streams.
EventStreamOpener WatchJobOpener(Connection& connection, std::string job_id);

// Opens JobService.DownloadArtifact for the artifact `name` of `job_id`.
ChunkStreamOpener DownloadOpener(Connection& connection, std::string job_id,
                                 std::string name);

}  // namespace quantd::client
