// For the GstHarness suites: GStreamer initialised and edgert's plugin loaded, from
// GST_PLUGIN_PATH when it has it (an installed or staged plugin), else the build's
// (EDGERT_GST_PLUGIN, set by tests/CMakeLists.txt).
#pragma once

#include <gst/gst.h>
#include <gtest/gtest.h>

namespace edgert::test {

// `element`: one of the plugin's elements, to tell whether it is already registered.
inline void loadEdgertPlugin(const char* element) {
  gst_init(nullptr, nullptr);
  if (GstElementFactory* f = gst_element_factory_find(element)) {
    gst_object_unref(f);
    return;
  }
  GError* err = nullptr;
  GstPlugin* p = gst_plugin_load_file(EDGERT_GST_PLUGIN, &err);
  ASSERT_TRUE(p) << (err ? err->message : "?");
  gst_object_unref(p);
}

}  // namespace edgert::test
