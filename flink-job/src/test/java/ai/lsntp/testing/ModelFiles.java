package ai.lsntp.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Variants of the shipped models for tests: a copy whose metadata says something else (another
 * version, another grid id), written with Python's onnx package (model-export's own tool chain;
 * Java has no ONNX writer), and the parity files that belong with it; and a persistence model of
 * any grid, for tests about a grid's size rather than its forecasts.
 */
public final class ModelFiles {
  private ModelFiles() {}

  /** Copies {@code src} to {@code dst} with these metadata properties replaced. */
  public static Path withMetadata(Path src, Path dst, Map<String, String> changes) throws IOException, InterruptedException {
    Files.createDirectories(dst.toAbsolutePath().getParent());
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", "-c",
        "import onnx, sys\n"
            + "m = onnx.load(sys.argv[1])\n"
            + "changes = dict(zip(sys.argv[3::2], sys.argv[4::2]))\n"
            + "for e in m.metadata_props:\n"
            + "    if e.key in changes: e.value = changes[e.key]\n"
            + "onnx.save(m, sys.argv[2])\n",
        src.toString(), dst.toString()));
    changes.forEach((k, v) -> {
      cmd.add(k);
      cmd.add(v);
    });
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("could not rewrite the metadata of " + src + " into " + dst);
    }
    return dst;
  }

  /**
   * A model of an h x w grid that forecasts persistence (every lead is the window's newest frame):
   * an ONNX graph of Slice and Tile with the metadata every exported model carries, so the job
   * checks, serves and streams it as it does LS-NTP, at any grid size, in microseconds per cell.
   * Written to {@code dir/<gridId>/model.onnx}.
   */
  public static Path persistence(Path dir, String gridId, int h, int w, int alpha, int beta, double lat0, double lon0,
      double dlat, double dlon) throws IOException, InterruptedException {
    Path out = dir.resolve(gridId).resolve("model.onnx");
    Files.createDirectories(out.getParent());
    String script = String.join("\n",
        "import sys, onnx",
        "from onnx import helper, TensorProto",
        "out, grid, h, w, a, b, lat0, lon0, dlat, dlon = sys.argv[1:]",
        "h, w, a, b = int(h), int(w), int(a), int(b)",
        "x = helper.make_tensor_value_info('frames', TensorProto.FLOAT, ['batch', a, h, w])",
        "y = helper.make_tensor_value_info('forecast', TensorProto.FLOAT, ['batch', b, h, w])",
        "init = [helper.make_tensor('starts', TensorProto.INT64, [1], [a - 1]),",
        "        helper.make_tensor('ends', TensorProto.INT64, [1], [a]),",
        "        helper.make_tensor('axes', TensorProto.INT64, [1], [1]),",
        "        helper.make_tensor('repeats', TensorProto.INT64, [4], [1, b, 1, 1])]",
        "nodes = [helper.make_node('Slice', ['frames', 'starts', 'ends', 'axes'], ['newest']),",
        "         helper.make_node('Tile', ['newest', 'repeats'], ['forecast'])]",
        "m = helper.make_model(helper.make_graph(nodes, 'persistence', [x], [y], init),",
        "                      opset_imports=[helper.make_opsetid('', 17)])",
        "m.ir_version = 8",
        "meta = dict(model_name='persistence', model_version='1.0.0', grid_id=grid, alpha=a, beta=b, step_hours=1,",
        "            grid_height=h, grid_width=w, grid_lat0=lat0, grid_lon0=lon0, grid_dlat=dlat, grid_dlon=dlon,",
        "            units='K', training_period='none: persistence, the newest frame held (a test model)',",
        "            validation_metrics='{}', weights_sha256='none', architecture='persistence', missing_fill='frame-mean')",
        "for k, v in meta.items():",
        "    m.metadata_props.add(key=k, value=str(v))",
        "onnx.checker.check_model(m)",
        "onnx.save(m, out)");
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, out.toString(), gridId, Integer.toString(h),
        Integer.toString(w), Integer.toString(alpha), Integer.toString(beta), Double.toString(lat0), Double.toString(lon0),
        Double.toString(dlat), Double.toString(dlon)).inheritIO().start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("could not write a persistence model for " + gridId + " into " + out);
    }
    return out;
  }

  /**
   * A model that forecasts persistence plus {@code biasK} (every lead: the window's newest frame +
   * biasK), with the metadata of {@code like} (a shipped model: its grid, alpha, beta, step) but
   * {@code name}, {@code version}, its own weights hash and no calibration; built with Python's onnx
   * package. Honest, deterministic test models of known skill: on any frames persistence + 1 K has
   * a larger MAE than persistence.
   */
  public static Path persistence(Path like, Path dst, String name, String version, double biasK)
      throws IOException, InterruptedException {
    Files.createDirectories(dst.toAbsolutePath().getParent());
    List<String> cmd = List.of("/usr/bin/python3", "-c",
        "import onnx, sys, hashlib\n"
            + "from onnx import helper, TensorProto, numpy_helper\n"
            + "import numpy as np\n"
            + "src = onnx.load(sys.argv[1])\n"
            + "md = {e.key: e.value for e in src.metadata_props}\n"
            + "a, b, h, w = int(md['alpha']), int(md['beta']), int(md['grid_height']), int(md['grid_width'])\n"
            + "bias = float(sys.argv[5])\n"
            + "init = [numpy_helper.from_array(np.array([a - 1], np.int64), 'starts'),\n"
            + "        numpy_helper.from_array(np.array([a], np.int64), 'ends'),\n"
            + "        numpy_helper.from_array(np.array([1], np.int64), 'axes'),\n"
            + "        numpy_helper.from_array(np.array([1, b, 1, 1], np.int64), 'repeats'),\n"
            + "        numpy_helper.from_array(np.array(bias, np.float32), 'bias')]\n"
            + "nodes = [helper.make_node('Slice', ['frames', 'starts', 'ends', 'axes'], ['last']),\n"
            + "         helper.make_node('Tile', ['last', 'repeats'], ['held']),\n"
            + "         helper.make_node('Add', ['held', 'bias'], ['forecast'])]\n"
            + "g = helper.make_graph(nodes, 'persistence', [helper.make_tensor_value_info('frames', TensorProto.FLOAT, ['batch', a, h, w])],\n"
            + "    [helper.make_tensor_value_info('forecast', TensorProto.FLOAT, ['batch', b, h, w])], init)\n"
            + "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)])\n"
            + "m.ir_version = 8\n"
            + "md.pop('calibration', None)\n"
            + "md.update({'model_name': sys.argv[3], 'model_version': sys.argv[4], 'architecture': '{\"kind\": \"persistence\"}',\n"
            + "    'weights_sha256': hashlib.sha256(('persistence%s' % bias).encode()).hexdigest()})\n"
            + "helper.set_model_props(m, md)\n"
            + "onnx.checker.check_model(m)\n"
            + "onnx.save(m, sys.argv[2])\n",
        like.toString(), dst.toString(), name, version, Double.toString(biasK));
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("could not build the persistence model " + dst);
    }
    return dst;
  }

  /** Copies a shipped model folder (model.onnx and its parity files) into {@code dir}. */
  public static Path copyFolder(Path modelFolder, Path dir) throws IOException {
    Files.createDirectories(dir);
    try (var files = Files.list(modelFolder)) {
      for (Path f : files.filter(f -> f.getFileName().toString().matches("model\\.onnx|parity.*")).toList()) {
        Files.copy(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    return dir;
  }

  /** Puts {@code file} in place at {@code target} the way operators should: one rename, never a half-written file. */
  public static void moveIntoPlace(Path file, Path target) throws IOException {
    Files.createDirectories(target.getParent());
    Files.move(file, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
