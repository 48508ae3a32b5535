// Umbrella header for skiff's core: everything needed to embed a RawNode.
#pragma once

#include "skiff/bytes.h"           // IWYU pragma: export
#include "skiff/conf_change.h"     // IWYU pragma: export
#include "skiff/config.h"          // IWYU pragma: export
#include "skiff/entry.h"           // IWYU pragma: export
#include "skiff/log_storage.h"     // IWYU pragma: export
#include "skiff/logger.h"          // IWYU pragma: export
#include "skiff/memory_storage.h"  // IWYU pragma: export
#include "skiff/message.h"         // IWYU pragma: export
#include "skiff/raw_node.h"        // IWYU pragma: export
#include "skiff/ready.h"           // IWYU pragma: export
#include "skiff/result.h"          // IWYU pragma: export
#include "skiff/snapshot.h"        // IWYU pragma: export
#include "skiff/state.h"           // IWYU pragma: export
#include "skiff/status.h"          // IWYU pragma: export
#include "skiff/storage.h"         // IWYU pragma: export
#include "skiff/types.h"           // IWYU pragma: export
