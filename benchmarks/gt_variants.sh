# The ground-truth protocol variants of the v2 study (issue 17), sourced by gt_study.sh and
# build_gt_v2.sh so that a variant means one thing: name -> config overrides of `standalone`.
gt_variant() {
  case $1 in
    v3) echo standalone.augment=true standalone.epochs=8 standalone.average_from=0.6 ;;   # the lead (pilot)
    v1) echo standalone.average_from=0.6 ;;                                                # v1 + averaging
    v2) echo standalone.epochs=5.46 standalone.average_from=0.6 ;;                         # 2x steps, no aug
    *) echo "unknown GT protocol variant '$1' (v3, v1, v2)" >&2; return 2 ;;
  esac
}
