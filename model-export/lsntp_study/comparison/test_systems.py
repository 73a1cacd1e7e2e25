"""The real queue's runs grouped into the tables' rows, and the full-resolution comparison's members
matched in size as Table 3 is."""
from ..fixtures import COMPARISON_QUEUE
from .systems import full_resolution_of, full_resolution_peers, references, systems


def test_the_real_queue_groups_into_the_papers_tables():
    by_name = {s.name: s for s in systems(COMPARISON_QUEUE)}
    assert by_name["era5-lsntp"].reference and len(by_name["era5-lsntp"].runs) == 3 and by_name["era5-lsntp"].folder == "lsntp"
    assert (by_name["era5-saconvlstm"].table, by_name["era5-saconvlstm"].row, by_name["era5-saconvlstm"].folder) == ("3", "SA-ConvLSTM", "saconvlstm")
    assert (by_name["era5-daggconvlstm"].table, by_name["ncep-lsntp-no-nsa-lagc"].row) == ("4", "w/o NSA & LAGC")
    assert (by_name["era5-lsntp-k5"].table, by_name["era5-lsntp-k5"].row) == ("5", "k = 5")
    assert (by_name["era5-lsntp-d300"].table, by_name["era5-lsntp-d300"].row) == ("5", "d = 300 km")
    assert by_name["era5-lsntp-linear"].row == "LSI without ReLU (linear)" and by_name["ncep-lsntp-relu"].row == "LSI with ReLU (the seed's)"
    assert by_name["ncep-lsntp-no-lsi"].folder == "lsntp-no-lsi" and by_name["ncep-lsntp"].grid_id == "ncep-na-2p5"
    assert (by_name["ncep-lsntp-full-res"].table, by_name["ncep-lsntp-full-res"].row) == ("6", "full resolution (no downsampling)")
    assert (by_name["era5-lsntp-linear"].table, by_name["era5-lsntp-sparse-k9"].table, by_name["ncep-lsntp-no-lsi"].table) == ("6", "6", "4")
    # another system at full resolution: measured for the resolution rule (Table 6), not a second Table 3 row
    assert (by_name["ncep-convlstm-full-res"].table, by_name["ncep-convlstm-full-res"].row) == ("6", "ConvLSTM at full resolution (no downsampling)")
    assert by_name["ncep-convlstm"].table == "3" and len(by_name["ncep-dconvlstm-full-res"].runs) == 3


def test_full_resolution_pairs_the_reference_with_its_full_resolution_self_and_peers():
    members = systems(COMPARISON_QUEUE)
    ref = references(members)["ncep-na-2p5"]
    ncep = [s for s in members if s.grid_id == "ncep-na-2p5"]
    full = full_resolution_of(ref, ncep)
    assert full is not None and full.name == "ncep-lsntp-full-res"
    assert full_resolution_of(full, ncep) is None  # already at full resolution: nothing to compare
    assert {p.name for p in full_resolution_peers(ref, ncep)} == {"ncep-convlstm-full-res", "ncep-dconvlstm-full-res",
                                                                  "ncep-saconvlstm-full-res"}
    assert full_resolution_peers(full, ncep) == []
    era5 = [s for s in members if s.grid_id == "era5-uk-0p25"]
    assert full_resolution_of(references(members)["era5-uk-0p25"], era5) is None  # ERA5 queues no full-resolution LS-NTP


def test_the_other_systems_at_full_resolution_are_matched_to_the_full_resolution_ls_ntp():
    """The resolution rule compares the full-resolution LS-NTP with other systems run at full
    resolution (full_resolution_peers): they must be matched to it as Table 3 is to the downsampled
    one (lsntp/test_sizes.py checks every config against the downsampled LS-NTP)."""
    from lsntp.test_sizes import TOLERANCE, parameters, shipped_grids

    grids = shipped_grids()
    members = systems(COMPARISON_QUEUE)
    checked = 0
    for ref in references(members).values():
        full = full_resolution_of(ref, members)
        peers = full_resolution_peers(ref, members)
        if full is None or not peers:
            continue
        target = parameters(full.cfg, grids)
        for peer in peers:
            n = parameters(peer.cfg, grids)
            assert abs(n / target - 1) <= TOLERANCE, f"{peer.name}: {n:,} parameters against {full.name}'s {target:,}"
            checked += 1
    assert checked == 3  # NCEP's ConvLSTM, D-ConvLSTM and SA-ConvLSTM at full resolution
