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
 * Java has no ONNX writer), and the parity files that belong with it.
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
